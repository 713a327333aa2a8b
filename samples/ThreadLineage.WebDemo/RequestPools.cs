namespace ThreadLineage.WebDemo;

/// <summary>How requests get a pool for their data (<c>RequestPools:Mode</c>: <c>borrowed</c>, <c>dedicated</c> or <c>shared</c>).</summary>
/// <param name="Mode">The mode every request uses.</param>
public sealed record RequestPools(RequestPoolMode Mode)
{
    /// <summary>The configuration key of the mode.</summary>
    public const string ModeKey = "RequestPools:Mode";

    /// <summary>Reads <see cref="ModeKey"/>; <see cref="RequestPoolMode.Borrowed"/> when it is not set.</summary>
    /// <param name="configuration">The application's configuration.</param>
    /// <returns>The settings.</returns>
    /// <exception cref="InvalidOperationException">The key names no mode.</exception>
    public static RequestPools From(IConfiguration configuration)
    {
        var value = configuration[ModeKey];
        if (string.IsNullOrWhiteSpace(value))
        {
            return new RequestPools(RequestPoolMode.Borrowed);
        }

        if (!Enum.TryParse<RequestPoolMode>(value, ignoreCase: true, out var mode) || !Enum.IsDefined(mode))
        {
            throw new InvalidOperationException(
                $"{ModeKey} is '{value}', which is not a request pool mode: use borrowed (the default), dedicated or shared.");
        }

        return new RequestPools(mode);
    }
}
