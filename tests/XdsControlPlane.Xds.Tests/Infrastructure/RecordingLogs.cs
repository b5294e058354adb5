using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace XdsControlPlane.Xds.Tests.Infrastructure;

/// <summary>Keeps every log line of a server, with its event name, for tests that check what was logged.</summary>
internal sealed class RecordingLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<(string EventName, string Message)> _lines = new();

    private readonly ConcurrentQueue<(string Category, string EventName, string Message, Exception? Exception)> _errors = new();

    public IReadOnlyList<(string EventName, string Message)> Lines => [.. _lines];

    /// <summary>Every line at error level or above, from any category (Kestrel's and gRPC's too), with its exception.</summary>
    public IReadOnlyList<(string Category, string EventName, string Message, Exception? Exception)> Errors => [.. _errors];

    public int Count(string eventName) => _lines.Count(l => l.EventName == eventName);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(RecordingLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner._lines.Enqueue((eventId.Name ?? "", formatter(state, exception)));
                if (logLevel >= LogLevel.Error)
                {
                    owner._errors.Enqueue((category, eventId.Name ?? "", formatter(state, exception), exception));
                }
            }
        }
    }
}
