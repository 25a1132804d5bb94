"""Services: the offer flow and the catalogue operations that the API, CLI and agent all call."""
