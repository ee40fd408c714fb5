"""``python -m scratchlstm.pretrained``: list the pretrained checkpoints with their paths."""
from . import info, names, path


def main() -> int:
    for name in names():
        meta = info(name)
        result = meta.get("result", {})
        print(f"{name}: {path(name)}")
        print(f"    test bits per character {result.get('test_bpc', float('nan')):.3f}, "
              f"test perplexity {result.get('test_ppl', float('nan')):.1f} per token; "
              f"recipe {meta.get('recipe', {}).get('file', '?')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
