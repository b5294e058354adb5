using System.Globalization;

namespace XdsControlPlane.Model;

/// <summary>
/// The one duration grammar of this project, for flags and annotations alike: what envoy-manager's Go flags take,
/// so a KKP operator writes durations the same way everywhere. Callers add their own bounds.
/// </summary>
public static class GoDuration
{
    /// <summary>
    /// Go's <c>time.ParseDuration</c> as envoy-manager's flags take
    /// them (<c>90s</c>, <c>250ms</c>, <c>1h30m</c>, <c>1.5s</c>, units ns us µs ms s m h, <c>0</c> alone), plus a bare
    /// number as seconds (this host's flags took those before). False for anything else, a negative duration, or
    /// one too long for a <see cref="TimeSpan"/> (a bad value, not an OverflowException).
    /// </summary>
    public static bool TryParse(string value, out TimeSpan duration)
    {
        duration = default;
        var text = value.Trim();
        if (text.Length == 0 || text[0] is '-' or '+')
        {
            return false;
        }
        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds))
        {
            return Fits(seconds * 1000, out duration);
        }
        double total = 0; // milliseconds
        var i = 0;
        while (i < text.Length)
        {
            var numberStart = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }
            var unitStart = i;
            while (i < text.Length && !char.IsAsciiDigit(text[i]) && text[i] != '.')
            {
                i++;
            }
            if (unitStart == numberStart
                || !double.TryParse(text.AsSpan(numberStart, unitStart - numberStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
            {
                return false;
            }
            double? scale = text[unitStart..i] switch
            {
                "ns" => 1e-6,
                "us" or "µs" or "μs" => 1e-3,
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => null,
            };
            if (scale is null)
            {
                return false;
            }
            total += n * scale.Value;
        }
        return Fits(total, out duration);
    }

    /// <summary>A duration the way <see cref="TryParse"/> reads it back (and Go prints it): <c>1h30m</c>, <c>250ms</c>, <c>0s</c>.</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
        {
            return "0s";
        }
        if (duration < TimeSpan.FromSeconds(1))
        {
            return duration.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + "ms";
        }
        var text = new System.Text.StringBuilder();
        if (duration.TotalHours >= 1)
        {
            text.Append(CultureInfo.InvariantCulture, $"{(long)duration.TotalHours}h");
        }
        if (duration.Minutes > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{duration.Minutes}m");
        }
        var rest = duration.Seconds + duration.Milliseconds / 1000.0;
        if (rest > 0)
        {
            text.Append(rest.ToString(CultureInfo.InvariantCulture)).Append('s');
        }
        return text.ToString();
    }

    private static bool Fits(double milliseconds, out TimeSpan duration)
    {
        // TimeSpan throws beyond its range (and for infinity or NaN): that is a bad value, not a crash.
        var fits = milliseconds >= 0 && milliseconds < TimeSpan.MaxValue.TotalMilliseconds;
        duration = fits ? TimeSpan.FromMilliseconds(milliseconds) : default;
        return fits;
    }
}
