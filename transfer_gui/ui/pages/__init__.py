"""The wizard's pages: data, model, settings, train, results."""
