"""indicator-engine: indicator definitions, data values, targets, computed results"""
