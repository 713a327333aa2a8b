namespace ThreadLineage.Benchmarks.Support;

/// <summary>
/// An <see cref="AsyncLocal{T}"/> that benchmarks set to make the captured <see cref="ExecutionContext"/>
/// non-default, so that context capture and restore show up in the measurement.
/// </summary>
public static class FlowValue
{
    private static readonly AsyncLocal<object?> s_value = new();
    private static readonly object s_payload = new();

    public static bool IsSet => s_value.Value is not null;

    /// <summary>Sets the value on this thread's context when <paramref name="set"/>, clears it otherwise.</summary>
    public static void Apply(bool set) => s_value.Value = set ? s_payload : null;
}
