"""Programs that measure models and speed; each writes its report under eval/reports/."""
