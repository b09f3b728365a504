"""``grade similarity``: which submissions of a lab share more of their answers than chance.

grader.similarity.fingerprint turns one notebook's cells into winnowed fingerprints,
grader.similarity.compare reads a batch and scores its pairs through an inverted index,
grader.similarity.page writes the CSV and the HTML report. Nothing here runs student code:
a notebook is data, read within the bounds of grader.course.notebook_file.
"""
