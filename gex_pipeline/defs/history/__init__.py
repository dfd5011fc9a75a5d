"""Historical day files: the date x feed import asset, its job and the request sensor."""
