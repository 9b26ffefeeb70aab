"""Simple CloudWatch metric math: + - * / and parentheses over query ids and numbers."""

from __future__ import annotations

import ast
import operator

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _eval_math(expr: str, series: dict[str, dict[int, float]]) -> tuple[list[int], list[float]]:
    tree = ast.parse(expr, mode="eval").body
    names: set[str] = set()

    def collect(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            if node.id not in series:
                raise ValueError(f"Unknown id {node.id}")
            names.add(node.id)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            collect(node.left)
            collect(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            collect(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            pass
        else:
            raise ValueError("Unsupported expression")

    collect(tree)

    def ev(node: ast.AST, t: int) -> float:
        if isinstance(node, ast.Name):
            return series[node.id][t]
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand, t)
        return _OPS[type(node.op)](ev(node.left, t), ev(node.right, t))  # type: ignore[attr-defined]

    if not names:
        return [], []
    common = set.intersection(*(set(series[n]) for n in names))
    ts, vals = [], []
    for t in sorted(common):
        try:
            v = ev(tree, t)
        except ZeroDivisionError:
            continue
        ts.append(t)
        vals.append(v)
    return ts, vals
