"""Provider token rules (gitleaks' default set, MIT) used by the masker to find secrets in text."""
