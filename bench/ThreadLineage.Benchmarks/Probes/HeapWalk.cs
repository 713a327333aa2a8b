using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// A reflection walk of the objects reachable from a root through instance fields, with each object's size measured
/// by allocating one of its kind (<see cref="GC.GetAllocatedBytesForCurrentThread"/>), for a per-type breakdown of what
/// an object keeps alive. No profiler or dotnet-counters needed; what is not on the managed heap (GC handles, native
/// memory, thread stacks) is not seen.
/// </summary>
internal static class HeapWalk
{
    private static readonly Dictionary<Type, long> s_sizes = [];
    private static readonly Dictionary<Type, FieldInfo[]> s_fields = [];

    /// <summary>Returns every object reachable from <paramref name="root"/>, not descending into objects <paramref name="stop"/> accepts.</summary>
    public static HashSet<object> Reachable(object root, Func<object, bool> stop)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>();
        pending.Push(root);
        while (pending.TryPop(out var current))
        {
            if (stop(current) || !seen.Add(current))
            {
                continue;
            }

            foreach (var child in References(current))
            {
                pending.Push(child);
            }
        }

        return seen;
    }

    /// <summary>Sums sizes by type over <paramref name="objects"/>, largest first.</summary>
    public static List<(string Type, int Count, long Bytes)> ByType(IEnumerable<object> objects) =>
        [.. objects
            .GroupBy(static o => Describe(o.GetType()))
            .Select(static g => (Type: g.Key, Count: g.Count(), Bytes: g.Sum(SizeOf)))
            .OrderByDescending(static row => row.Bytes)];

    /// <summary>The size of <paramref name="value"/> on the managed heap, header included.</summary>
    public static long SizeOf(object value)
    {
        switch (value)
        {
            case string text:
                return Measure(() => new string('x', text.Length));
            case Array array:
                return Measure(() => Array.CreateInstance(array.GetType().GetElementType()!, array.Length));
        }

        var type = value.GetType();
        lock (s_sizes)
        {
            if (!s_sizes.TryGetValue(type, out var size))
            {
                size = Measure(() => RuntimeHelpers.GetUninitializedObject(type));
                s_sizes[type] = size;
            }

            return size;
        }
    }

    /// <summary>A readable type name: generic arguments spelled out, namespaces dropped.</summary>
    public static string Describe(Type type)
    {
        if (type.IsArray)
        {
            return Describe(type.GetElementType()!) + "[]";
        }

        var name = type.IsNested && type.DeclaringType is { } outer ? $"{Simple(outer)}.{Simple(type)}" : Simple(type);
        return type.IsGenericType ? $"{name}<{string.Join(", ", type.GetGenericArguments().Select(Describe))}>" : name;

        static string Simple(Type t) => t.Name.IndexOf('`', StringComparison.Ordinal) is var tick and >= 0 ? t.Name[..tick] : t.Name;
    }

    private static long Measure(Func<object> allocate)
    {
        // The smallest of a few tries: the first may include the JIT's own allocations.
        var smallest = long.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var instance = allocate();
            var after = GC.GetAllocatedBytesForCurrentThread();
            GC.KeepAlive(instance);
            smallest = Math.Min(smallest, after - before);
        }

        return smallest;
    }

    private static IEnumerable<object> References(object value)
    {
        if (value is string or MemberInfo or Assembly or Module or Pointer)
        {
            yield break;
        }

        if (value is Array array)
        {
            var elementType = array.GetType().GetElementType()!;
            if (elementType.IsPrimitive || elementType.IsPointer || elementType.IsEnum)
            {
                yield break;
            }

            foreach (var element in (IEnumerable)array)
            {
                if (element is null)
                {
                    continue;
                }

                if (elementType.IsValueType)
                {
                    // A struct element: its references, not the boxed copy itself.
                    foreach (var inner in References(element))
                    {
                        yield return inner;
                    }
                }
                else
                {
                    yield return element;
                }
            }

            yield break;
        }

        foreach (var field in FieldsOf(value.GetType()))
        {
            var fieldValue = field.GetValue(value);
            if (fieldValue is null)
            {
                continue;
            }

            if (field.FieldType.IsValueType)
            {
                foreach (var inner in References(fieldValue))
                {
                    yield return inner;
                }
            }
            else
            {
                yield return fieldValue;
            }
        }
    }

    private static FieldInfo[] FieldsOf(Type type)
    {
        lock (s_fields)
        {
            if (!s_fields.TryGetValue(type, out var fields))
            {
                var list = new List<FieldInfo>();
                for (var t = type; t is not null; t = t.BaseType)
                {
                    list.AddRange(t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                        .Where(static f => !f.FieldType.IsPrimitive && !f.FieldType.IsPointer && !f.FieldType.IsEnum && f.FieldType != typeof(IntPtr) && f.FieldType != typeof(UIntPtr)));
                }

                fields = [.. list];
                s_fields[type] = fields;
            }

            return fields;
        }
    }
}
