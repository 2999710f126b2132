from chat.rendering import markdown_render


def test_markdown_with_code_blocks_and_tables():
    out = markdown_render(
        "# Title\n\n```python\nprint(1 < 2)\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h1>Title</h1>" in out
    assert '<pre><code class="language-python">print(1 &lt; 2)' in out
    assert "<table>" in out and "<td>1</td>" in out


def test_script_and_dangerous_links_are_neutralised():
    out = markdown_render(
        '<script>alert(1)</script> <img src=x onerror="alert(2)"> [x](javascript:alert(3))'
    )
    assert "<script" not in out and "<img" not in out
    assert 'href="javascript' not in out
    assert "&lt;script&gt;" in out


def test_links_get_safe_rel():
    out = markdown_render("[site](https://example.com)")
    assert 'href="https://example.com"' in out
    assert 'rel="noopener noreferrer nofollow"' in out
