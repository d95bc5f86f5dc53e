// Light touches only; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  // Ask before destructive-sounding buttons.
  document.querySelectorAll("button[data-confirm]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });
  // Relabel: show only the values of the chosen field.
  const field = document.getElementById("relabel-field");
  const value = document.getElementById("relabel-value");
  if (field && value) {
    const sync = () => {
      value.querySelectorAll("optgroup").forEach((g) => { g.hidden = g.label !== field.value; g.disabled = g.label !== field.value; });
      const first = value.querySelector(`optgroup[label="${field.value}"] option`);
      if (first) value.value = first.value;
    };
    field.addEventListener("change", sync);
    sync();
  }
});
