"""Stage 1b, letter intake: IMR letters (PDF or text) read into case files."""
