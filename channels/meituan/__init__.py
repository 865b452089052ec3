"""Meituan 到店 团购券: redemption (prepare → consume) from the staff page, history polling."""
