"""evaluation: evaluation rounds, scoring, rankings, reports"""
