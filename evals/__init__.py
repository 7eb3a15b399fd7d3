"""Citation-checked evaluations: retrieval, exams, answers, and comparisons of runs."""
