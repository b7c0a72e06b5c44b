"""MLflow: this set's tracking server, and logging that never holds a run up."""
