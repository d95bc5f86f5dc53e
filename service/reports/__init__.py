"""Reports for operators: the weekly report as data, then rendered to Markdown or HTML."""
