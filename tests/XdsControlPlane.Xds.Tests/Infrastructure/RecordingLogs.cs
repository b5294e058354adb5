using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace XdsControlPlane.Xds.Tests.Infrastructure;

/// <summary>Keeps every log line of a server, with its event name, for tests that check what was logged.</summary>
internal sealed class RecordingLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(string EventName, string Message)> _lines = new();

    public IReadOnlyList<(string EventName, string Message)> Lines => [.. _lines];

    public int Count(string eventName) => _lines.Count(l => l.EventName == eventName);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner._lines.Enqueue((eventId.Name ?? "", formatter(state, exception)));
            }
        }
    }
}
