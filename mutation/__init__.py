"""The mutation gate (make mutate): see __main__.py and mutants.yaml."""
