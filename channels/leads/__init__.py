"""What every lead source shares: the typed events, the lead sink, retention and the leads list."""
