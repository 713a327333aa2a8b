namespace ThreadLineage.Tests.Exceptions;

/// <summary>
/// The library's exceptions (docs/pools.md, "Exceptions and logging"): each derives from <see cref="InvalidOperationException"/>, has the
/// standard three constructors, and carries the data a caller needs.
/// </summary>
public class ExceptionTests
{
    public static TheoryData<Type> ExceptionTypes =>
        [typeof(ManagerNotFoundException), typeof(UnknownTaskTypeException), typeof(ThreadPoolFullException)];

    [Theory]
    [MemberData(nameof(ExceptionTypes))]
    public void Type_Always_DerivesFromInvalidOperationException(Type type)
    {
        Assert.True(type.IsSubclassOf(typeof(InvalidOperationException)), $"{type.Name} does not derive from InvalidOperationException.");
        Assert.True(type.IsPublic);
    }

    [Theory]
    [MemberData(nameof(ExceptionTypes))]
    public void Constructor_Parameterless_HasAFullSentenceMessage(Type type)
    {
        var exception = (Exception)Activator.CreateInstance(type)!;

        Assert.False(string.IsNullOrWhiteSpace(exception.Message));
        Assert.EndsWith(".", exception.Message, StringComparison.Ordinal);
        Assert.Null(exception.InnerException);
    }

    [Theory]
    [MemberData(nameof(ExceptionTypes))]
    public void Constructor_Message_KeepsMessage(Type type)
    {
        var exception = (Exception)Activator.CreateInstance(type, "custom message")!;

        Assert.Equal("custom message", exception.Message);
        Assert.Null(exception.InnerException);
    }

    [Theory]
    [MemberData(nameof(ExceptionTypes))]
    public void Constructor_MessageAndInner_KeepsBoth(Type type)
    {
        var inner = new TimeoutException("inner");

        var exception = (Exception)Activator.CreateInstance(type, "custom message", inner)!;

        Assert.Equal("custom message", exception.Message);
        Assert.Same(inner, exception.InnerException);
    }

    [Fact]
    public void ManagerNotFoundException_IdAndNode_CarriesIdAndNamesIdNodeAndFix()
    {
        var exception = new ManagerNotFoundException("render", Lineage.Root);

        Assert.Equal("render", exception.Id);
        Assert.Contains("'render'", exception.Message, StringComparison.Ordinal);
        Assert.Contains(Lineage.Root.ToString(), exception.Message, StringComparison.Ordinal);
        Assert.Contains("GetOrCreateManager", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManagerNotFoundException_StandardConstructors_HaveNoId()
    {
        Assert.Null(new ManagerNotFoundException().Id);
        Assert.Null(new ManagerNotFoundException("message").Id);
        Assert.Null(new ManagerNotFoundException("message", new TimeoutException()).Id);
    }

    [Fact]
    public void ManagerNotFoundException_FromGetManager_CarriesTheRequestedId()
    {
        var id = $"pool-exceptions-missing-{Guid.NewGuid():N}";

        var exception = Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(id));

        Assert.Equal(id, exception.Id);
        Assert.Contains(id, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownTaskTypeException_Types_CarriesBothAndNamesManagerTypesAndFix()
    {
        var exception = new UnknownTaskTypeException("render-pool", "io", "render");

        Assert.Equal("io", exception.TaskType);
        Assert.Equal("render", exception.PoolTaskType);
        Assert.Contains("'render-pool'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("'io'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("taskType: \"render\"", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownTaskTypeException_NullTaskType_MessageSaysNoTaskType()
    {
        var exception = new UnknownTaskTypeException("render-pool", null, "render");

        Assert.Null(exception.TaskType);
        Assert.Equal("render", exception.PoolTaskType);
        Assert.Contains("no task type", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownTaskTypeException_StandardConstructors_HaveNoTypes()
    {
        var exception = new UnknownTaskTypeException("message", new TimeoutException());

        Assert.Null(exception.TaskType);
        Assert.Null(exception.PoolTaskType);
        Assert.Null(new UnknownTaskTypeException().PoolTaskType);
    }
}
