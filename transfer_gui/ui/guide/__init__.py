"""Help > Guide, the numbers page, the first-run hint and Report a problem."""
