"""Console pages of the contacts app (customers, tags, groups, segments, imports) and the staff sidebar."""
