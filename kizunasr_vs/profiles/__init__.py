"""Profiles: JSON files choosing the stages by source height, hardware and preference."""

from kizunasr_vs.profiles.loader import Profile, ProfileError, RangeChains, available_profiles, load_profile

__all__ = ["Profile", "ProfileError", "RangeChains", "available_profiles", "load_profile"]
