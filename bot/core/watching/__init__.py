"""core/watching"""
