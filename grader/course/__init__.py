"""Step 1, the course: its folders (layout), each lab's settings, the submissions found
under the paths given (discover, archive, notebook_file), and the student notebook made
from the solution (assign). Imports nothing of the later steps."""
