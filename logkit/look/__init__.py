"""Stage 5, look: ways to see the events — the Kibana saved-search bundle (and, later, the HTML
report and notebooks). Reads the schema; imports no later stage."""
