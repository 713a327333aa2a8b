using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ThreadLineage.Testing;

/// <summary>An <see cref="ILoggerFactory"/> whose loggers record every entry, for asserting what a pool logged.</summary>
public sealed class RecordingLogger : ILoggerFactory, ILogger
{
    private readonly ConcurrentQueue<Entry> _entries = new();
    private readonly ConcurrentQueue<string> _categories = new();

    /// <summary>Gets a snapshot of the entries logged so far, in order.</summary>
    public IReadOnlyList<Entry> Entries => [.. _entries];

    /// <summary>Gets the categories loggers were created for.</summary>
    public IReadOnlyList<string> Categories => [.. _categories];

    public ILogger CreateLogger(string categoryName)
    {
        _categories.Enqueue(categoryName);
        return this;
    }

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        _entries.Enqueue(new Entry(logLevel, eventId, formatter(state, exception), exception));
    }

    public void Dispose()
    {
    }

    /// <summary>One logged entry.</summary>
    public sealed record Entry(LogLevel Level, EventId EventId, string Message, Exception? Exception);
}
