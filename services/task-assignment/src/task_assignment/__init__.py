"""task-assignment: tasks, their lead and co-operating departments, progress reports and close-out."""
