"""Rebuild every head in models/ from real data: `python -m training.train_all`."""

from __future__ import annotations

from training import flags, intent, sentiment


def main() -> None:
    for module in (sentiment, intent, flags):
        print(f"== {module.__name__}")
        module.main()


if __name__ == "__main__":
    main()
