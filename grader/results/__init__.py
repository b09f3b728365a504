"""What a grade is (model: statuses as enums, tests with their hidden flag), where it is
kept (store: results JSON, executed notebook, gradebook.csv, all written atomically),
and every grade ever given (history: grades/history.sqlite)."""
