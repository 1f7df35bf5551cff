"""The receiving agency's side: referral packages another kaitiaki sent, imported as received
cases, worked (steps, notes, assignment) and reported back as signed outcome files."""
