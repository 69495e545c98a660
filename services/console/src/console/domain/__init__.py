"""The console's pure rules: what it keeps of each event, and the dashboard's indicators."""
