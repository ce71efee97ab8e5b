"""The process runtime on SpiffWorkflow: restoring and saving workflows, the script sandbox and
working days (the deadlines the processes keep)."""
