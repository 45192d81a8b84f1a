"""The rules the audit checks labels against, each one object in one place.

- `pipeline.rules.protocol`: the protocol checks (one module per family, found by the
  package itself): name, labels, Great Expectations expectations generated from the
  protocol file, credit and reason from a product row, methodology sentence;
- `pipeline.rules.quality`: the data-quality checks (expectations, severity, whether a
  finding blocks the verdict, the finding's wording);
- `pipeline.rules.compliance`: the label-compliance rules of 21 CFR 101.36 and the
  regulated dietary ingredients they are about.

`pipeline.rules.base` holds the shapes they share. The suites (pipeline.expectations), the
score, the report's check columns, audit.json and the methodology are built from these.
"""
