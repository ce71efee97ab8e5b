"""The power list: loading and deploying the catalogue's BPMN definitions, their compliance with the
rules, and the village settings checked against it."""
