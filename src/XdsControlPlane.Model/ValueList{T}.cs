using System.Collections;
using System.Collections.Immutable;

namespace XdsControlPlane.Model;

/// <summary>
/// An immutable list with value equality, so that records holding lists still compare by content:
/// "did this tenant change?" must be a cheap, exact comparison.
/// </summary>
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly ImmutableArray<T> _items;
    private int _hash;

    public ValueList(IEnumerable<T> items) => _items = items.ToImmutableArray();

    public static ValueList<T> Empty { get; } = new([]);

    public int Count => _items.Length;

    public T this[int index] => _items[index];

    public ImmutableArray<T> AsImmutableArray() => _items;

    public bool Equals(ValueList<T>? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        if (other is null || other._items.Length != _items.Length || other.GetHashCode() != GetHashCode())
        {
            return false;
        }
        var comparer = EqualityComparer<T>.Default;
        for (var i = 0; i < _items.Length; i++)
        {
            if (!comparer.Equals(_items[i], other._items[i]))
            {
                return false;
            }
        }
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);

    public override int GetHashCode()
    {
        // Benign race: every thread computes the same value.
        if (_hash == 0)
        {
            var hash = new HashCode();
            foreach (var item in _items)
            {
                hash.Add(item);
            }
            _hash = hash.ToHashCode() | 1;
        }
        return _hash;
    }

    public ImmutableArray<T>.Enumerator GetEnumerator() => _items.GetEnumerator();

    IEnumerator<T> IEnumerable<T>.GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable)_items).GetEnumerator();

    public override string ToString() => $"[{string.Join(", ", _items)}]";
}
