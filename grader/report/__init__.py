"""What people read: the terminal's progress bar and tables (terminal), the HTML feedback
page (feedback, filters), CI output (ci, workflows) and LMS exports (lms). Reads results;
never calls the command line."""
