"""The OktaIntegration custom resource: ``spec`` (what users declare), ``status`` (what the
operator reports) and ``validation`` (their errors as one readable line)."""
