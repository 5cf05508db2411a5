"""Work on a task: progress reports with evidence, the status workflow, overdue, the light, reminders."""
