"""The one error type a user can cause, carrying a sentence the page or CLI shows as is."""


class VizcoreError(Exception):
    """A problem with the user's input or environment, described in one plain sentence.

    Pages show ``str(error)`` in ``st.error``; the CLI prints it on stderr and exits non-zero.
    """
