"""Layout pieces every page uses."""

from __future__ import annotations

import json

import streamlit as st


def page_intro(title: str, what_it_shows: str, how_to_read: str) -> None:
    """The page's title and two plain sentences: what it shows, and how to read it."""
    st.title(title)
    st.markdown(f"{what_it_shows} {how_to_read}")


def json_download(label: str, payload: dict, file_name: str, key: str) -> None:
    st.download_button(label, json.dumps(payload, indent=2), file_name=file_name, mime="application/json", key=key)
