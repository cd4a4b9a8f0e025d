"""Projects (saved sets of runs) and the run picker."""
