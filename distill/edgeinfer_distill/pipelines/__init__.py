"""The two experiments (text, voice) and what they share."""
