"""Test and sample label generator (dev only: needs reportlab).

Every generator takes labels in the reduced DSLD shape of tests/data/dsld/labels.json
(dsld_id, product_name, brand, serving_sizes, ingredients, other_ingredients, statements)
and writes them as the files users have: PDFs in several panel layouts, DSLD label JSON,
DSLD export CSV, and the simple CSV layout.
"""
