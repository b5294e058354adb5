namespace XdsControlPlane.Model;

public static class ValueList
{
    public static ValueList<T> From<T>(IEnumerable<T> items) => new(items);

    public static ValueList<T> ToValueList<T>(this IEnumerable<T> items) => new(items);
}
