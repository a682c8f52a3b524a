"""The hidden width of the channel bottleneck shared by CBAM, SE and GC blocks."""


def bottleneck_width(channels, reduction, min_channels=8):
    """``channels // reduction``, never below ``min_channels`` (narrow stages keep a usable MLP)."""
    return max(int(channels) // int(reduction), int(min_channels))
