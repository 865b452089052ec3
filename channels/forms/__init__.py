"""Web form / H5 lead pages (/f/<slug>/) with explicit marketing consent."""
