"""Lightning glue: the module that trains and evaluates any Recommender, and the run driver."""
